"""The public API gateway: websockets, REST, the action webhook and the widget."""
