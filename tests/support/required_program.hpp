#pragma once

#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace crm::host::testing {

// A program a test starts, and the Debian package that provides it. A test
// whose program is missing fails (it never skips) with a message saying what
// to install; scripts/lib.sh installs every package listed here.
struct RequiredProgram {
  std::string path;
  std::string debian_package;
  // A Python module the program must be able to import, for servers run as
  // `python3 -m MODULE`; empty for plain programs.
  std::string python_module;
};

inline const RequiredProgram kDovecot{"/usr/sbin/dovecot", "dovecot-imapd", ""};
inline const RequiredProgram kTrytond{"/usr/bin/trytond", "tryton-server", ""};
inline const RequiredProgram kTrytondAdmin{"/usr/bin/trytond-admin", "tryton-server", ""};
inline const RequiredProgram kPython{"/usr/bin/python3", "python3", ""};
inline const RequiredProgram kAiosmtpd{"/usr/bin/python3", "python3-aiosmtpd", "aiosmtpd"};
inline const RequiredProgram kPromtool{"/usr/bin/promtool", "prometheus", ""};

// " (Debian package P; scripts/lib.sh installs it)": appended to every error
// about a server a test could not start.
inline std::string package_hint(const RequiredProgram& program) {
  return " (Debian package " + program.debian_package + "; scripts/lib.sh installs it)";
}

// Throws when the program is missing, not executable, or cannot import its
// module, naming the package to install.
inline void require(const RequiredProgram& program) {
  if (::access(program.path.c_str(), X_OK) != 0) {
    throw std::runtime_error(program.path + " is missing: install the Debian package " + program.debian_package +
                             " (scripts/test.sh installs it)");
  }
  if (!program.python_module.empty()) {
    const std::string probe = "'" + program.path + "' -c 'import " + program.python_module + "' 2>/dev/null";
    if (std::system(probe.c_str()) != 0) {  // NOLINT(cert-env33-c): a fixed command built from constants
      throw std::runtime_error("python module " + program.python_module + " is missing: install the Debian package " +
                               program.debian_package + " (scripts/test.sh installs it)");
    }
  }
}

// "NAME did not start ... (Debian package P; ...)": the error for a server
// that was started but never answered.
inline std::string did_not_start(const RequiredProgram& program, const std::string& detail) {
  return program.path + " did not start" + package_hint(program) + (detail.empty() ? "" : ": " + detail);
}

}  // namespace crm::host::testing
