"""Writing a design to weight files, deployable formats and a script, each checked against the model."""
