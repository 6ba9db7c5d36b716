//! Certificate issuers behind one trait.
