"""Pictures of the search space: cells drawn as DAGs with Graphviz. No TF."""
