"""HTTP and websocket routes. Each module is a thin router over api/services/."""
