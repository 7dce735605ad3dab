// Keeps a layer library non-empty while its directory has no source yet.
