"""Where a port starts to differ from its SavedModel: intermediate values matched op by op."""
