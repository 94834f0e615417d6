#pragma once

#include <signal.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <vector>

namespace crm::host::testing {

// What a shell command run to its end printed on stdout, and its exit code (-1: it did not exit, or
// could not be started).
struct ShellResult {
  int exit_code = -1;
  std::string output;
};

// Runs `command` with /bin/sh and waits for it (popen): the command redirects stderr itself if wanted.
inline ShellResult run_shell(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return {};
  }
  ShellResult result;
  std::array<char, 4096> chunk{};
  std::size_t read = 0;
  while ((read = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0) {
    result.output.append(chunk.data(), read);
  }
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// A server process a test starts and stops: its first stdout line is read
// (a "listening PORT" banner), and it is killed with the test.
class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& argv) {
    int pipe_ends[2] = {-1, -1};
    if (::pipe(pipe_ends) != 0) {
      throw std::runtime_error("pipe failed");
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(pipe_ends[1], STDOUT_FILENO);
      ::close(pipe_ends[0]);
      ::close(pipe_ends[1]);
      std::vector<char*> args;
      args.reserve(argv.size() + 1);
      for (const std::string& arg : argv) {
        args.push_back(const_cast<char*>(arg.c_str()));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
      }
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(pipe_ends[1]);
    output_ = ::fdopen(pipe_ends[0], "r");
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (output_ != nullptr) {
      std::fclose(output_);
    }
  }

  // The next line the process printed, without its newline ("" at end of output).
  std::string read_line() {
    std::string line;
    int c = 0;
    while (output_ != nullptr && (c = std::fgetc(output_)) != EOF && c != '\n') {
      line.push_back(static_cast<char>(c));
    }
    return line;
  }

 private:
  pid_t pid_ = -1;
  FILE* output_ = nullptr;
};

}  // namespace crm::host::testing
