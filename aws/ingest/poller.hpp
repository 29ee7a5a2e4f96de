// poller.hpp - every configured queue long-polled from one thread, the
// messages worked by a bounded pool of workers.
//
// A hundred queues need no hundred threads: the poller thread drives one
// ReceiveMessage long poll (WaitTimeSeconds 20, up to 10 messages) per queue
// on a single curl multi handle, and [ingest] concurrency worker threads
// run Processor::process() on what arrives. A queue is polled again as
// soon as its answer is handed to the workers, but only while fewer than
// `concurrency` received messages wait for a worker (so messages do not sit
// in memory while their visibility timeout runs). A queue whose poll fails
// backs off (1 s doubling to 60 s; credentials errors 60 s) and says so in
// the log; the other queues go on. The messages of one answer are deleted
// together when the last of them is done (ReceiveBatch).
//
// run() returns after stop(): long polls are abandoned (nothing received is
// lost: an abandoned poll has received nothing), and every message already
// received is worked to the end before the workers exit.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "aws/ingest/processor.hpp"

namespace sesame::ingest {

class Poller {
  public:
    Poller(Shared& shared, Processor& processor);
    ~Poller();
    Poller(const Poller&) = delete;
    Poller& operator=(const Poller&) = delete;

    // Polls until stop(); then drains the workers. Call from one thread.
    void run();
    // Thread-safe and async-signal-unsafe: call from a normal thread.
    void stop();

    // Messages received and not yet finished (waiting or being worked).
    int in_flight() const { return shared_.in_flight.load(); }
    // True while the polling loop turns (it does at least once a second):
    // what the systemd watchdog is told.
    bool alive() const;

  private:
    struct Job {
        const config::IngestQueue* queue;
        aws::SqsMessage message;
        std::shared_ptr<ReceiveBatch> batch;  // the messages received with it
    };
    void work();

    Shared& shared_;
    Processor& processor_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::int64_t> heartbeat_ms_{0};  // steady clock, at the loop's last turn
    void* multi_ = nullptr;                      // CURLM*, owned (poller.cpp)

    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<Job> jobs_;
    bool draining_ = false;
    std::vector<std::thread> workers_;
};

}  // namespace sesame::ingest
