"""Moving bytes: WebSocket sessions, held long-polls, frame building and the server runner's
handler. Everything here runs in gevent greenlets; the hub hands it pre-encoded events."""
