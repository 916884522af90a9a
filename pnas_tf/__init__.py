"""pnas_tf: Progressive Neural Architecture Search on TensorFlow and Keras 3.

Layers, each importing only those below it (binaries at the top):

  search, train_child, train_final, predict, model_summary   binaries (absl)
  api         search() and train_final() from Python, as the binaries run
  cli/        usage errors and the flags binaries share
  nas/        Algorithm 1: controller, store, evaluator, executors, reports
  predictor/  LSTM and MLP surrogates, cell encoding, rank correlation
  training/   child and final training under tf.distribute
  serving/    SavedModel exports, TensorFlow Serving's REST format
  model/ data/   Keras operators, cell, networks; tfds input pipelines,
                 image folders and .npz files
  config/ space/ storage/   pure settings; the search space; run files
  testing/    the synthetic accuracy that tests and benchmarks use
"""
