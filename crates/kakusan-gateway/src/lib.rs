//! kakusan's gateway loop: shards on twilight-gateway, each event handed to a handler.
