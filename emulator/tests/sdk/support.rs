//! Setup and assertion helpers shared by the modules of the `sdk` test binary.
