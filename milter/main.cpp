// main.cpp - sesame-milter: configuration, signals, then libmilter's loop.
//
// The main thread only waits for signals; smfi_main() runs in a thread of
// its own. libmilter's own signal thread also waits for SIGHUP and SIGTERM,
// and would stop the milter on SIGHUP; Linux offers a process-directed
// signal to the main thread first when it is waiting for it, so here
// SIGHUP reloads the configuration and SIGTERM/SIGINT stop the milter
// after the messages in flight (see the end of run() for why not through
// smfi_stop()).
#include <grp.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__has_feature)
#include <sanitizer/lsan_interface.h>
#endif

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <thread>

#include "aws/dynamodb/dynamo_store.hpp"
#include "milter/callbacks.hpp"
#include "milter/runtime.hpp"
#include "policy/daemon/daemon.hpp"
#include "policy/daemon/http.hpp"
#include "policy/daemon/privileges.hpp"
#include "policy/daemon/systemd.hpp"
#include "policy/log/log.hpp"
#include "policy/mime/message_reader.hpp"

namespace {

using namespace sesame;

// TCP_NODELAY on libmilter's listening socket (accepted sockets inherit it
// on Linux). Without it, Postfix's last body chunk and end-of-message, two
// small writes, wait for a delayed ACK: about 40-90 ms per message.
// libmilter does not expose the descriptor, so find the listening one.
void set_nodelay_on_listener()
{
    for (int fd = 3; fd < 1024; ++fd) {
        int listening = 0;
        socklen_t len = sizeof listening;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
        sockaddr_storage addr{};
        socklen_t alen = sizeof addr;
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0) continue;
        if (addr.ss_family != AF_INET && addr.ss_family != AF_INET6) continue;
        int one = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
            log::line(log::Level::warning, std::string("TCP_NODELAY on the milter socket: ") + strerror(errno));
    }
}

// Creates the directory of the unix socket PATH when it is missing: 0750,
// owned by WHO (the daemon after the drop) and group postfix, so that
// Postfix reaches the socket and nobody else lists the directory.
void prepare_socket_directory(const std::string& path, const std::optional<daemon::Identity>& who)
{
    const std::string dir = path.substr(0, path.rfind('/'));
    if (dir.empty() || ::access(dir.c_str(), F_OK) == 0) return;
    if (::mkdir(dir.c_str(), 0750) != 0)
        throw std::runtime_error("cannot create the socket directory " + dir + ": " + std::strerror(errno));
    const group* g = getgrnam("postfix");
    if (who && ::chown(dir.c_str(), who->uid, g ? g->gr_gid : who->gid) != 0)
        throw std::runtime_error("cannot give " + dir + " to " + who->user + ": " + std::strerror(errno));
}

// leave(STATUS): _exit() with the end-of-process leak check an ASan build
// would have made at exit().
[[noreturn]] void leave(int status)
{
#if defined(__SANITIZE_ADDRESS__)
    __lsan_do_leak_check();
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    __lsan_do_leak_check();
#endif
#endif
    std::cout.flush();
    std::cerr.flush();
    std::_Exit(status);
}

int run(const daemon::Args& args)
{
    if (args.help) {
        std::cout << daemon::usage("sesame-milter") << "\n";
        return 0;
    }
    config::Config cfg = config::load_config(args.config, args.explicit_config);
    const std::optional<daemon::Identity> who = daemon::identity_to_become(cfg);
    daemon::check_secrets(cfg);
    if (args.check_only) {
        std::cout << "configuration OK\n";
        return 0;
    }
    log::configure("sesame-milter", cfg.log_target, cfg.log_level);
    // Block the signals everywhere but where sigwait() takes them: before
    // any thread starts, so that every thread inherits the mask.
    const sigset_t set = daemon::block_signals();
    mime::mime_init();  // before any thread starts (see its comment)
    milter::Runtime rt(cfg);
    milter::set_runtime(&rt);

    // What needs root first: the side door, the milter socket.
    const auto http = daemon::start_http(cfg.http_listen, {&rt.policy(), &rt.registry(), &rt.prober()});
    const std::string socket = cfg.milter_socket;
    const bool unix_socket = socket.rfind("unix:", 0) == 0 || socket.rfind("local:", 0) == 0;
    const std::string path = unix_socket ? socket.substr(socket.find(':') + 1) : std::string();
    if (unix_socket) {
        prepare_socket_directory(path, who);
        ::unlink(path.c_str());
    }
    if (smfi_register(*milter::filter_description()) == MI_FAILURE) throw std::runtime_error("smfi_register failed");
    if (smfi_setconn(const_cast<char*>(socket.c_str())) == MI_FAILURE)
        throw std::runtime_error("cannot use milter socket " + socket);
    if (smfi_opensocket(true) == MI_FAILURE) throw std::runtime_error("cannot open milter socket " + socket);
    if (unix_socket) {
        // Reachable by Postfix (group postfix) and nobody else.
        const group* g = getgrnam("postfix");
        (void)::chown(path.c_str(), who ? who->uid : static_cast<uid_t>(-1), g ? g->gr_gid : static_cast<gid_t>(-1));
        ::chmod(path.c_str(), 0660);
    }
    if (socket.rfind("inet", 0) == 0) set_nodelay_on_listener();
    smfi_settimeout(300);
    // Then nobody: the store is opened as the daemon's user, so the files
    // sqlite creates next to it (-wal, -shm) are that user's.
    daemon::drop_privileges(who);
    daemon::first_load(rt.policy(), cfg);
    rt.prober().start();

    std::atomic<bool> stop{false};
    std::thread watcher(daemon::watch_policy, std::ref(rt.policy()), std::ref(stop));
    std::atomic<int> status{0};
    std::atomic<bool> milter_running{true};
    std::thread milter([&] {
        status = smfi_main() == MI_SUCCESS ? 0 : 1;
        milter_running = false;
        kill(getpid(), SIGTERM);  // wake the main thread if libmilter stopped by itself
    });
    log::line(log::Level::notice, "listening on " + socket);
    daemon::systemd::ready("listening on " + socket);

    daemon::wait_for_signals(
        set, [&] { return milter_running.load(); },
        [&] {
            daemon::systemd::reloading();
            try {
                rt.reload();
            } catch (const std::exception& e) {
                log::line(log::Level::error,
                          std::string("reload failed, keeping the running configuration: ") + e.what());
            }
            daemon::systemd::ready("listening on " + socket);
        });
    daemon::systemd::stopping();
    // smfi_stop() ends libmilter's sessions too: first let the messages
    // in flight finish (a minute at most), deferring new ones (4xx).
    milter::start_draining();
    for (int i = 0; i < 1200 && milter::messages_in_flight() > 0; ++i) {
        if (i == 0)
            log::line(log::Level::notice,
                      "waiting for " + std::to_string(milter::messages_in_flight()) + " message(s) in flight");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    stop = true;
    watcher.join();
    if (!milter_running) {  // libmilter ended by itself: nothing of it is left running
        milter.join();
        return status;
    }
    // libmilter's own teardown (smfi_stop()) destroys its listener's and
    // worker pool's mutexes while its other threads still use them
    // (ThreadSanitizer shows it, libmilter 8.17), so once the mail in flight
    // is done the milter leaves without it: Postfix sees the idle sessions
    // close, as after smfi_stop().
    if (unix_socket) ::unlink(path.c_str());
    leave(0);
}

}  // namespace

int main(int argc, char** argv)
{
    try {
        dynamodb::register_backend();  // `[store] backend = "dynamodb"`
        return run(daemon::parse_args(argc, argv, "sesame-milter"));
    } catch (const std::exception& e) {
        std::cerr << "sesame-milter: " << e.what() << "\n";
        return 2;
    }
}
