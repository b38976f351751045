"""Sans-I/O protocol parsers: text or bytes in, typed `ProtocolEvent`s out.

Each platform protocol is a small state machine with no sockets, tested with
captured messages. The server only shuttles data between a socket and a parser.
"""
