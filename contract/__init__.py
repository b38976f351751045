"""The public contract: event types (`events`) and the one codec (`codec`)."""
