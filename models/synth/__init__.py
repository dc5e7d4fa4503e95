"""Training data for the action model: 3D motion (mocap and procedural), virtual cameras, pose noise, windows.

Everything that makes 3D motion returns `motion.Motion`; `camera.Camera` projects it to pixels;
`noise` turns clean projections into what MoveNet would report; `dataset` cuts labelled windows.
"""
