"""Pictures: cells drawn as DAGs (Graphviz) and a search's plots (matplotlib). No TF."""
