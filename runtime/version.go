package runtime

// Version is the semantic version of the svcclient runtime.
const Version = "0.2.0"

// IsAtLeastVersion0_2_0 is referenced by generated code to check at compile
// time that the runtime it is built against is recent enough. A generated file
// that needs a newer runtime refers to a constant this version lacks, and the
// build fails with a message naming that constant rather than an obscure type
// error somewhere in the generated code.
const IsAtLeastVersion0_2_0 = true
