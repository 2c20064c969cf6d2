"""Quality and speed, side by side with the framework reference, in one process."""
