"""Video to landmarks: MediaPipe Pose on a video file or an image folder (``detect``), and the
monocular placement of its world landmarks in the scene, written as a landmark file the
landmark pipeline reads (``mono``).

Numpy only at import time; mediapipe and OpenCV are imported inside the functions that need them,
so the rest of the add-on works without them (a clear error names what to install)."""
