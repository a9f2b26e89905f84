//! Sans-IO Mosaic protocol.
