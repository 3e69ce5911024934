//! The real `securecam` binary, run as a user runs it: the CLI, several processes on one
//! PostgreSQL, and a notifier killed mid-batch. One test binary with a module per story.

mod cli;
mod multi_node;
mod notifier_crash;
mod support;
