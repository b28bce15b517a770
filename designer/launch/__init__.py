"""Training outside this process: on every GPU of the machine or in a set number of processes, by
running the generated training script under torchrun and reading its events back."""
