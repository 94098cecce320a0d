"""marshmallow request schemas: pure validation and defaults, no lookups in the state.
Unknown keys are dropped (0.7 ignored them), so newer backends can send more."""
