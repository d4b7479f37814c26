"""The evaluation form: lists, filling in, submitting, the state changes, evidence."""
