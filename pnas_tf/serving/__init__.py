"""SavedModel exports in TensorFlow Serving's layout; its REST format."""
