"""Training children and final networks under tf.distribute."""
