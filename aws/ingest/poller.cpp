// poller.cpp - see poller.hpp.
#include "aws/ingest/poller.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "policy/log/log.hpp"

namespace sesame::ingest {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kWaitSeconds = 20;

struct EasyFree {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct ListFree {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

size_t append(char* data, size_t size, size_t n, void* user)
{
    static_cast<std::string*>(user)->append(data, size * n);
    return size * n;
}

// One queue's long poll: its own easy handle (and so its own connection).
struct QueuePoll {
    const config::IngestQueue* queue = nullptr;
    std::unique_ptr<CURL, EasyFree> easy;
    std::unique_ptr<curl_slist, ListFree> headers;
    aws::HttpRequest request;
    std::string body;
    bool active = false;
    Clock::time_point next_at{};
    std::chrono::seconds backoff{0};
};

}  // namespace

Poller::Poller(Shared& shared, Processor& processor) : shared_(shared), processor_(processor)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    multi_ = curl_multi_init();
    if (!multi_) throw std::runtime_error("curl_multi_init failed");
    for (std::int64_t i = 0; i < shared_.config.ingest_concurrency; ++i) workers_.emplace_back([this] { work(); });
}

Poller::~Poller()
{
    {
        std::lock_guard lock(mutex_);
        draining_ = true;
    }
    ready_.notify_all();
    for (auto& t : workers_)
        if (t.joinable()) t.join();
    curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

void Poller::stop()
{
    stopping_ = true;
    curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

bool Poller::alive() const
{
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
    return now - heartbeat_ms_.load() < 30000;
}

void Poller::work()
{
    Worker worker(shared_);
    const std::size_t concurrency = static_cast<std::size_t>(shared_.config.ingest_concurrency);
    for (;;) {
        Job job;
        bool room = false;
        {
            std::unique_lock lock(mutex_);
            ready_.wait(lock, [&] { return draining_ || !jobs_.empty(); });
            if (jobs_.empty()) return;  // draining and nothing left
            job = std::move(jobs_.front());
            jobs_.pop_front();
            room = jobs_.size() + 1 == concurrency;  // the poller held back; it may poll again
        }
        if (room) curl_multi_wakeup(static_cast<CURLM*>(multi_));
        processor_.process(worker, *job.queue, job.message, job.batch.get());
        --shared_.in_flight;
    }
}

void Poller::run()
{
    CURLM* multi = static_cast<CURLM*>(multi_);
    std::vector<QueuePoll> polls(shared_.config.ingest_queues.size());
    for (std::size_t i = 0; i < polls.size(); ++i) {
        polls[i].queue = &shared_.config.ingest_queues[i];
        polls[i].easy.reset(curl_easy_init());
        if (!polls[i].easy) throw std::runtime_error("curl_easy_init failed");
    }
    const int concurrency = static_cast<int>(shared_.config.ingest_concurrency);

    auto start = [&](QueuePoll& p) {
        p.request = aws::sqs_receive_request(shared_.aws, p.queue->url, 10, kWaitSeconds);
        p.body.clear();
        curl_slist* list = nullptr;
        for (const auto& [k, v] : p.request.headers) list = curl_slist_append(list, (k + ": " + v).c_str());
        list = curl_slist_append(list, "Expect:");
        p.headers.reset(list);
        CURL* e = p.easy.get();
        curl_easy_setopt(e, CURLOPT_URL, p.request.url.c_str());
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, p.request.body.data());
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(p.request.body.size()));
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, p.headers.get());
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, append);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &p.body);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>((kWaitSeconds + 15) * 1000));
        curl_easy_setopt(e, CURLOPT_PRIVATE, &p);
        curl_multi_add_handle(multi, e);
        p.active = true;
    };

    auto fail = [&](QueuePoll& p, const std::string& why, bool credentials) {
        p.backoff = credentials ? std::chrono::seconds(60)
                                : std::min(std::chrono::seconds(60), std::max(std::chrono::seconds(1), p.backoff * 2));
        p.next_at = Clock::now() + p.backoff;
        log::line(log::Level::error, "queue " + p.queue->domain + " (" + p.queue->url + "): " + why +
                                         "; polling again in " + std::to_string(p.backoff.count()) + " s");
    };

    while (!stopping_) {
        const auto now = Clock::now();
        heartbeat_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
        for (auto& p : polls) {
            if (p.active || now < p.next_at) continue;
            {
                std::lock_guard lock(mutex_);
                if (static_cast<int>(jobs_.size()) >= concurrency) break;
            }
            try {
                start(p);
            } catch (const std::exception& e) {  // credentials could not be found
                fail(p, e.what(), true);
            }
        }
        int running = 0;
        curl_multi_perform(multi, &running);
        int left = 0;
        bool finished = false;  // a poll ended: start it again before sleeping
        while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
            if (msg->msg != CURLMSG_DONE) continue;
            QueuePoll* p = nullptr;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&p));
            curl_multi_remove_handle(multi, msg->easy_handle);
            p->active = false;
            finished = true;
            aws::HttpResponse r;
            if (msg->data.result != CURLE_OK) {
                r.error = curl_easy_strerror(msg->data.result);
            } else {
                curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &r.status);
                r.body = std::move(p->body);
            }
            try {
                auto messages = aws::sqs_parse_receive(r);
                p->backoff = std::chrono::seconds(0);
                if (!messages.empty()) {
                    auto batch = std::make_shared<ReceiveBatch>(messages.size());
                    {
                        std::lock_guard lock(mutex_);
                        for (auto& m : messages) jobs_.push_back({p->queue, std::move(m), batch});
                        shared_.in_flight += static_cast<int>(messages.size());
                    }
                    ready_.notify_all();
                }
            } catch (const aws::AwsException& e) {
                fail(*p, e.what(), e.error().kind == aws::AwsError::Kind::credentials);
            }
        }
        // Sleep until a socket is ready, a worker made room (it wakes us
        // when the waiting messages drop below `concurrency`), stop(), or
        // the next backed-off queue is due (at most a second). Not when a
        // poll just ended: it may start again at once.
        if (!finished) curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    }
    for (auto& p : polls)
        if (p.active) curl_multi_remove_handle(multi, p.easy.get());
    log::line(log::Level::notice,
              "stopped polling; finishing " + std::to_string(shared_.in_flight.load()) + " message(s) received");
    {
        std::lock_guard lock(mutex_);
        draining_ = true;
    }
    ready_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
}

}  // namespace sesame::ingest
