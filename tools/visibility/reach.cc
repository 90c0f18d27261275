// Never compiled: the targets using it exist to be refused by Bazel's
// visibility check (see BUILD.bazel).
