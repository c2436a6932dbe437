"""`avatar bench`: each backend's milliseconds per blend and splat on synthetic scenes of fixed
sizes (`backends`), and a trained avatar's stages at its own framing (`model`)."""
