"""The finance office's confirmation of the final scores and grade."""
