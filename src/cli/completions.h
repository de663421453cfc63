// Shell completions generated from the one CLI11 definition of every flag, so that --help, the
// completions and the man-page check can never disagree.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace logpipe::cli {

/// The completion script for `shell` (bash, zsh or fish) covering every command and flag.
std::string completion_script(const CLI::App& app, const std::string& shell);

}  // namespace logpipe::cli
