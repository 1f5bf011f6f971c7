//! Generated messages: placeholder until protocol/codegen writes this module.
