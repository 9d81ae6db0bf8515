"""What runs things: an artefact's notebook through papermill (execute), the campaign that trains the `paper`
models in order of value within a budget (campaign), and the same campaign as submitit jobs on a cluster
(cluster). They sit above hebm_lib.report, whose manifest, results and notebook machinery they use."""
