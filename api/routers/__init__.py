"""One router per demo, in the order of the demo registry."""
