// ServingEngine: continuous batching over the paged KV cache (include/llmrt/serving.hpp).
//
// One step (Impl::step, on the step thread):
//   1. take new requests; finish cancelled sequences;
//   2. running sequences, oldest first, each get their next tokens (1 for a decode, a chunk of
//      a split prompt otherwise) while the step's token budget lasts; a sequence that needs a
//      block when none is left preempts the newest running sequence (its blocks freed, its
//      tokens recomputed when it is admitted again);
//   3. waiting sequences, oldest first, are admitted while there is budget, a free seat
//      (max_num_seqs) and blocks: first the prefix cache gives them what it holds of their
//      prompt, then their first chunk joins the step;
//   4. one batched forward pass (InferRequest::infer_paged); sequences whose step reached their
//      last token sample the next one, stream it, and finish on an end token, a stop string,
//      max_new_tokens or the context's end.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "genai/kv_cache_manager.h"
#include "genai/sampler.h"
#include "genai/stop_strings.h"
#include "genai/text_model.h"
#include "llmrt/serving.hpp"
#include "util/error.h"
#include "util/log.h"

namespace llmrt {

namespace {
using Clock = std::chrono::steady_clock;
double ms_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }
}  // namespace

void SchedulerConfig::validate() const {
  auto bad = [](const char* field, auto value, const char* why) {
    fail(ErrorCode::kInvalidArgument, "SchedulerConfig.{} = {}: {}", field, value, why);
  };
  if (max_num_batched_tokens == 0) bad("max_num_batched_tokens", max_num_batched_tokens, "must be at least 1");
  if (max_num_seqs == 0) bad("max_num_seqs", max_num_seqs, "must be at least 1");
  if (block_size == 0 || block_size > 4096) bad("block_size", block_size, "must be in [1, 4096]");
  if (!(cache_size >= 0) || cache_size > 1024) bad("cache_size", cache_size, "must be in [0, 1024] GB");
  if (num_kv_blocks > (size_t{1} << 30)) bad("num_kv_blocks", num_kv_blocks, "is absurd");
  if (max_context < 0) bad("max_context", max_context, "must not be negative");
}

struct GenerationHandle::State {
  uint64_t id = 0;
  GenerationConfig config;
  Clock::time_point arrival;
  std::atomic<bool> cancel_requested{false};

  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<GenerationOutput> queue;
  std::vector<GenerationResult> results;  // one per sequence
  size_t active = 0;                      // sequences not finished
  size_t cached_prompt_tokens = 0;
  std::exception_ptr error;
};

GenerationHandle::GenerationHandle() = default;
GenerationHandle::GenerationHandle(std::shared_ptr<State> state) : state_(std::move(state)) {}
GenerationHandle::~GenerationHandle() = default;
GenerationHandle::GenerationHandle(GenerationHandle&&) noexcept = default;
GenerationHandle& GenerationHandle::operator=(GenerationHandle&&) noexcept = default;

uint64_t GenerationHandle::id() const { return state_ ? state_->id : 0; }

namespace {
// The next queued output, else the request's failure, else nothing (caller holds state.mu).
std::optional<GenerationOutput> pop_output(GenerationHandle::State& state) {
  if (!state.queue.empty()) {
    GenerationOutput out = std::move(state.queue.front());
    state.queue.pop_front();
    return out;
  }
  if (state.error) std::rethrow_exception(state.error);
  return std::nullopt;
}
}  // namespace

std::optional<GenerationOutput> GenerationHandle::try_read() {
  if (!state_) fail(ErrorCode::kInvalidArgument, "try_read() on an empty GenerationHandle");
  std::lock_guard lock(state_->mu);
  return pop_output(*state_);
}

std::optional<GenerationOutput> GenerationHandle::read() {
  if (!state_) fail(ErrorCode::kInvalidArgument, "read() on an empty GenerationHandle");
  std::unique_lock lock(state_->mu);
  state_->cv.wait(lock, [&] { return !state_->queue.empty() || state_->active == 0 || state_->error; });
  return pop_output(*state_);
}

std::vector<GenerationResult> GenerationHandle::wait() {
  if (!state_) fail(ErrorCode::kInvalidArgument, "wait() on an empty GenerationHandle");
  std::unique_lock lock(state_->mu);
  state_->cv.wait(lock, [&] { return state_->active == 0 || state_->error; });
  if (state_->error) std::rethrow_exception(state_->error);
  state_->queue.clear();
  return state_->results;
}

void GenerationHandle::cancel() {
  if (state_) state_->cancel_requested = true;
}

bool GenerationHandle::finished() const {
  if (!state_) return true;
  std::lock_guard lock(state_->mu);
  return state_->active == 0 || state_->error;
}

size_t GenerationHandle::cached_prompt_tokens() const {
  if (!state_) return 0;
  std::lock_guard lock(state_->mu);
  return state_->cached_prompt_tokens;
}

struct ServingEngine::Impl {
  struct Seq {
    std::shared_ptr<GenerationHandle::State> req;
    size_t index = 0;
    uint64_t order = 0;               // admission order: the largest is the newest
    std::vector<int32_t> tokens;      // prompt, then generated
    size_t prompt_len = 0;
    genai::SeqBlocks blocks;
    int64_t computed = 0;             // positions whose keys are in the cache
    std::vector<int32_t> end_ids;
    std::optional<genai::Sampler> sampler;
    std::optional<genai::StreamDecoder> decoder;
    std::optional<genai::StopStrings> stops;
    bool fork_pending = false;        // its first sample also starts the request's other sequences
    Clock::time_point admitted, first_token, last_token;
    size_t generated = 0, cached = 0;  // cached: prompt tokens the prefix cache gave at admission
    bool admitted_once = false;
    bool done = false;
  };

  Clock::time_point created = Clock::now();  // first member: load time covers reading the model
  genai::TextModel text;
  SchedulerConfig config;
  std::optional<CompiledModel> compiled;
  std::optional<InferRequest> request;
  std::optional<genai::BlockManager> blocks;
  double load_time_ms = 0;

  // Shared with callers (under mu).
  mutable std::mutex mu;
  std::condition_variable wake, idle;
  std::deque<std::unique_ptr<Seq>> incoming;
  bool stopping = false, accepting = true, busy = false;
  uint64_t next_id = 1;
  ServingMetrics published;

  // The step thread's own.
  std::deque<std::unique_ptr<Seq>> waiting;
  std::vector<std::unique_ptr<Seq>> running;
  uint64_t next_order = 0;
  ServingMetrics counters;
  std::thread thread;
  std::mutex step_mu;  // host-driven engines (no thread): one step() at a time
  std::vector<float> fork_row;  // a logits row copied for each fork of a request (kept between steps)

  Impl(const std::filesystem::path& path, std::string_view device, const SchedulerConfig& cfg, const PipelineOptions& options)
      : text(path, options.plugin_dirs), config(cfg) {
    config.validate();
    const ModelInfo& info = text.model.info();
    int64_t max_context = config.max_context > 0 ? config.max_context
                                : options.max_context > 0 ? options.max_context
                                                          : std::min<int64_t>(info.max_position_embeddings, 4096);
    const auto bs = static_cast<int64_t>(config.block_size);
    // Bytes of one block over all layers (keys and values), as the CPU plugin stores them.
    const int64_t per_head = config.kv_cache_precision == KvPrecision::kF32   ? 4 * info.head_dim
                             : config.kv_cache_precision == KvPrecision::kU8 ? info.head_dim + 8
                                                                              : 2 * info.head_dim;
    const int64_t block_bytes = 2 * info.num_layers * info.num_kv_heads * per_head * bs;
    int64_t n_blocks = static_cast<int64_t>(config.num_kv_blocks);
    if (config.cache_size > 0) n_blocks = static_cast<int64_t>(config.cache_size * 1e9 / static_cast<double>(block_bytes));
    if (config.cache_size <= 0 && config.num_kv_blocks == 0) {
      const int64_t per_seq = (std::min<int64_t>(max_context, 512) + bs - 1) / bs;
      n_blocks = std::max<int64_t>(static_cast<int64_t>(config.max_num_seqs) * per_seq, (max_context + bs - 1) / bs);
      n_blocks = std::min<int64_t>(n_blocks, std::max<int64_t>(1, int64_t{4'000'000'000} / block_bytes));
    }
    if (n_blocks < 1) {
      fail(ErrorCode::kInvalidArgument, "SchedulerConfig: a KV cache of {} GB holds no block of {} tokens ({} bytes each)",
           config.cache_size, bs, block_bytes);
    }
    if (n_blocks * bs < max_context) {
      // One sequence can never outgrow the whole cache: it would preempt everyone and then fail.
      log::warn("serving: the KV cache holds {} positions, fewer than the context of {}: sequences are limited to {}",
                n_blocks * bs, max_context, n_blocks * bs);
      max_context = n_blocks * bs;
    }
    config.num_kv_blocks = static_cast<size_t>(n_blocks);
    config.cache_size = static_cast<double>(n_blocks * block_bytes) / 1e9;
    config.max_context = max_context;
    CompileOptions copts;
    copts.max_context = max_context;
    copts.kv_num_blocks = n_blocks;
    copts.kv_block_size = bs;
    copts.kv_precision = config.kv_cache_precision;
    compiled = text.core.compile(text.model, device, copts);
    request = compiled->create_request();
    blocks.emplace(n_blocks, bs, config.enable_prefix_caching);
    counters.kv_blocks_total = n_blocks;
    published = counters;
    load_time_ms = ms_between(created, Clock::now());
    log::info("serving: '{}' on {}: {} KV blocks of {} tokens ({:.2f} GB, {}), context {}, up to {} sequences", path.string(),
              compiled->device(), n_blocks, bs, config.cache_size, to_string(config.kv_cache_precision), max_context,
              config.max_num_seqs);
    if (config.step_thread) thread = std::thread([this] { loop(); });
  }

  ~Impl() {
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    wake.notify_all();
    if (thread.joinable()) thread.join();
    else cancel_all();
  }

  GenerationHandle add(std::vector<int32_t> ids, const GenerationConfig& cfg) {
    cfg.validate();
    if (ids.empty()) fail(ErrorCode::kInvalidArgument, "the prompt is empty: it gave no tokens");
    const int64_t context = config.max_context;
    if (static_cast<int64_t>(ids.size()) >= context) {
      fail(ErrorCode::kOutOfRange, "the prompt of {} tokens does not fit the context window of {} tokens (leave room for at "
           "least one generated token)", ids.size(), context);
    }
    const int64_t vocab = text.model.info().vocab_size;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= vocab) {
        fail(ErrorCode::kInvalidArgument, "prompt token {} at index {} is outside the vocabulary of {} tokens", ids[i], i, vocab);
      }
    }
    if (blocks->blocks_for(static_cast<int64_t>(ids.size()) + 1) > blocks->num_blocks()) {
      fail(ErrorCode::kOutOfRange, "the prompt of {} tokens needs more KV blocks than the cache has ({} of {} tokens)", ids.size(),
           blocks->num_blocks(), blocks->block_size());
    }
    auto state = std::make_shared<GenerationHandle::State>();
    state->config = cfg;
    state->arrival = Clock::now();
    state->active = cfg.num_return_sequences;
    state->results.resize(cfg.num_return_sequences);
    auto seq = std::make_unique<Seq>();
    seq->req = state;
    seq->prompt_len = ids.size();
    seq->end_ids = text.end_ids(cfg);
    seq->sampler.emplace(cfg, seq->end_ids);
    seq->sampler->observe_prompt(ids);
    seq->decoder.emplace(*text.tokenizer);
    seq->stops.emplace(cfg.stop_strings, cfg.include_stop_str_in_output);
    seq->fork_pending = cfg.num_return_sequences > 1;
    for (GenerationResult& r : state->results) {
      r.prompt_token_ids = ids;
      r.perf.load_time_ms = load_time_ms;
      r.perf.num_input_tokens = ids.size();
    }
    seq->tokens = std::move(ids);
    {
      std::lock_guard lock(mu);
      if (!accepting || stopping) fail(ErrorCode::kCancelled, "the serving engine is draining: it takes no new requests");
      state->id = next_id++;
      incoming.push_back(std::move(seq));
    }
    wake.notify_all();
    return GenerationHandle(state);
  }

  void loop() {
    while (true) {
      {
        std::unique_lock lock(mu);
        wake.wait(lock, [&] { return stopping || !incoming.empty() || !running.empty() || !waiting.empty(); });
        if (stopping) break;
        busy = true;
      }
      run_step();
    }
    cancel_all();
  }

  // One step, then the metrics callers see. Returns whether requests remain.
  bool run_step() {
    try {
      step();
    } catch (const std::exception& e) {
      log::error("serving: step failed outside any request: {}", e.what());
    }
    refresh_metrics();
    std::lock_guard lock(mu);
    busy = false;
    published = counters;
    published.requests_running = running.size();
    published.requests_waiting = waiting.size() + incoming.size();
    const bool more = !(running.empty() && waiting.empty() && incoming.empty());
    if (!more) idle.notify_all();
    return more;
  }

  // Shutting down: everything still here ends as cancelled.
  void cancel_all() {
    std::deque<std::unique_ptr<Seq>> rest;
    {
      std::lock_guard lock(mu);
      rest.swap(incoming);
    }
    for (auto& s : rest) finish(*s, FinishReason::kCancelled);
    for (auto& s : waiting) finish(*s, FinishReason::kCancelled);
    for (auto& s : running) finish(*s, FinishReason::kCancelled);
  }

  void push(Seq& s, GenerationOutput out) {
    {
      std::lock_guard lock(s.req->mu);
      GenerationResult& r = s.req->results[s.index];
      r.text += out.text;
      r.generated_token_ids.insert(r.generated_token_ids.end(), out.token_ids.begin(), out.token_ids.end());
      r.logprobs.insert(r.logprobs.end(), out.logprobs.begin(), out.logprobs.end());
      if (out.finish_reason != FinishReason::kNone) {
        r.finish_reason = out.finish_reason;
        PerfMetrics& p = r.perf;
        const auto now = Clock::now();
        p.num_generated_tokens = r.generated_token_ids.size();
        if (s.generated > 0) {
          p.ttft_ms = ms_between(s.req->arrival, s.first_token);
          // Prompt tokens computed (not from the prefix cache) over admission to first token.
          const double prefill_ms = ms_between(s.admitted, s.first_token);
          if (prefill_ms > 0) p.prefill_tps = static_cast<double>(s.prompt_len - s.cached) * 1000.0 / prefill_ms;
        }
        if (s.generated > 1) {
          p.tpot_ms = ms_between(s.first_token, s.last_token) / static_cast<double>(s.generated - 1);
          p.throughput_tps = p.tpot_ms > 0 ? 1000.0 / p.tpot_ms : 0;
        }
        p.generate_time_ms = ms_between(s.req->arrival, now);
        if (--s.req->active == 0) ++counters.requests_finished;
      }
      if (!out.text.empty() || !out.token_ids.empty() || out.finish_reason != FinishReason::kNone) s.req->queue.push_back(std::move(out));
    }
    s.req->cv.notify_all();
  }

  // Ends a sequence and frees its blocks. `flush`: the text held back (an incomplete character,
  // a possible start of a stop string) is final now and goes out — at max_new_tokens, the
  // context's end or an end token; not after a cancel or a stop string.
  void finish(Seq& s, FinishReason reason, bool flush = false) {
    if (s.done) return;
    s.done = true;
    GenerationOutput out;
    out.index = s.index;
    if (flush) {
      auto step = s.stops->push(s.decoder->flush());
      out.text = step.emit;
      if (step.stopped) reason = FinishReason::kStop;
      else out.text += s.stops->flush();
    }
    out.finish_reason = reason;
    blocks->release(s.blocks);
    // Cancelled (or shut down) before its first token: the request's other sequences, never
    // forked, end with it.
    const size_t unforked = s.fork_pending ? s.req->config.num_return_sequences - 1 : 0;
    s.fork_pending = false;
    push(s, std::move(out));
    for (size_t i = 1; i <= unforked; ++i) {
      Seq sibling;
      sibling.req = s.req;
      sibling.index = i;
      GenerationOutput end;
      end.index = i;
      end.finish_reason = reason;
      push(sibling, std::move(end));
    }
  }

  void fail_seq(Seq& s, std::exception_ptr error) {
    if (s.done) return;
    s.done = true;
    blocks->release(s.blocks);
    {
      std::lock_guard lock(s.req->mu);
      if (!s.req->error) s.req->error = error;
    }
    s.req->cv.notify_all();
  }

  void preempt(size_t i) {
    Seq& s = *running[i];
    blocks->release(s.blocks);
    s.computed = 0;
    ++counters.preemptions;
    log::debug("serving: preempted request {} sequence {} ({} tokens to recompute)", s.req->id, s.index, s.tokens.size());
    waiting.push_front(std::move(running[i]));
    running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
  }

  // Index in `running` of the newest sequence not in `keep`, or -1.
  int64_t newest_except(const std::vector<Seq*>& keep) const {
    int64_t best = -1;
    for (size_t i = 0; i < running.size(); ++i) {
      if (std::find(keep.begin(), keep.end(), running[i].get()) != keep.end()) continue;
      if (best < 0 || running[i]->order > running[static_cast<size_t>(best)]->order) best = static_cast<int64_t>(i);
    }
    return best;
  }

  void step() {
    {
      std::lock_guard lock(mu);
      while (!incoming.empty()) {
        incoming.front()->order = next_order++;  // arrival order: preemption takes the newest
        waiting.push_back(std::move(incoming.front()));
        incoming.pop_front();
      }
    }
    // Cancelled sequences leave first.
    auto cancelled = [](const std::unique_ptr<Seq>& s) { return s->req->cancel_requested.load(); };
    for (auto& s : running) if (cancelled(s)) finish(*s, FinishReason::kCancelled);
    for (auto& s : waiting) if (cancelled(s)) finish(*s, FinishReason::kCancelled);
    auto gone = [](const std::unique_ptr<Seq>& s) { return s->done; };
    running.erase(std::remove_if(running.begin(), running.end(), gone), running.end());
    waiting.erase(std::remove_if(waiting.begin(), waiting.end(), gone), waiting.end());

    int64_t budget = static_cast<int64_t>(config.max_num_batched_tokens);
    std::vector<Seq*> scheduled;
    std::vector<int64_t> counts;
    std::vector<std::pair<int32_t, int32_t>> copies;
    // Running sequences, oldest first.
    std::sort(running.begin(), running.end(), [](const auto& a, const auto& b) { return a->order < b->order; });
    for (size_t i = 0; i < running.size() && budget > 0;) {
      Seq& s = *running[i];
      const int64_t need = static_cast<int64_t>(s.tokens.size()) - s.computed;
      const int64_t n = std::min(need, budget);
      bool fits = false;
      while (true) {
        const size_t copies_before = copies.size();
        fits = blocks->grow(s.blocks, s.computed + n) && blocks->make_writable(s.blocks, s.computed, s.computed + n, copies);
        if (fits) break;
        copies.resize(copies_before);  // the blocks they wrote to went back with a failed attempt
        std::vector<Seq*> keep = scheduled;
        keep.push_back(&s);
        const int64_t victim = newest_except(keep);
        if (victim < 0) break;
        preempt(static_cast<size_t>(victim));
        if (static_cast<size_t>(victim) < i) --i;  // (never: scheduled ones are kept)
      }
      if (!fits) {
        // Nothing left to preempt but those already in this step: this one waits its turn again.
        auto it = std::find_if(running.begin(), running.end(), [&](const auto& p) { return p.get() == &s; });
        preempt(static_cast<size_t>(it - running.begin()));
        continue;
      }
      scheduled.push_back(&s);
      counts.push_back(n);
      budget -= n;
      ++i;
    }
    // Waiting sequences, oldest first, while there is room.
    while (!waiting.empty() && budget > 0 && running.size() < config.max_num_seqs) {
      Seq& s = *waiting.front();
      if (s.blocks.table.empty()) {
        s.computed = blocks->reuse_prefix(s.tokens, static_cast<int64_t>(s.tokens.size()) - 1, s.blocks, /*count=*/false);
      }
      const int64_t need = static_cast<int64_t>(s.tokens.size()) - s.computed;
      int64_t n = std::min(need, budget);
      if (!config.dynamic_split_fuse && n < need) {
        // A whole prompt per step: wait for a step with room, unless it could never fit.
        if (!scheduled.empty() || need <= static_cast<int64_t>(config.max_num_batched_tokens)) break;
        n = need;
      }
      const size_t copies_before = copies.size();
      if (!blocks->grow(s.blocks, s.computed + n) || !blocks->make_writable(s.blocks, s.computed, s.computed + n, copies)) {
        copies.resize(copies_before);
        if (scheduled.empty() && running.empty()) {
          fail_seq(s, std::make_exception_ptr(Error(ErrorCode::kOutOfRange,
              fmt::format("request {}: {} tokens do not fit the KV cache of {} blocks of {} tokens", s.req->id, s.tokens.size(),
                          blocks->num_blocks(), blocks->block_size()))));
          waiting.pop_front();
          continue;
        }
        blocks->release(s.blocks);
        s.computed = 0;
        break;
      }
      if (!s.admitted_once) {  // a readmission after preemption is neither a lookup nor a prefill start
        s.admitted_once = true;
        s.cached = static_cast<size_t>(s.computed);
        s.admitted = Clock::now();
        blocks->count_lookup(s.tokens.size(), s.cached);
        std::lock_guard lock(s.req->mu);
        s.req->cached_prompt_tokens = s.cached;
      }
      scheduled.push_back(&s);
      counts.push_back(n);
      budget -= n;
      running.push_back(std::move(waiting.front()));
      waiting.pop_front();
    }
    if (scheduled.empty()) return;

    std::vector<SequenceStep> steps;
    for (size_t k = 0; k < scheduled.size(); ++k) {
      Seq& s = *scheduled[k];
      SequenceStep st;
      st.tokens = std::span<const int32_t>(s.tokens).subspan(static_cast<size_t>(s.computed), static_cast<size_t>(counts[k]));
      st.n_past = s.computed;
      st.block_table = s.blocks.table;
      st.logits = s.computed + counts[k] == static_cast<int64_t>(s.tokens.size());
      steps.push_back(st);
    }
    std::vector<float> logits;
    try {
      if (!copies.empty()) {
        std::vector<int32_t> src, dst;
        for (auto [a, b] : copies) {
          src.push_back(a);
          dst.push_back(b);
        }
        request->copy_blocks(src, dst);
      }
      logits = request->infer_paged(steps);
    } catch (...) {
      const std::exception_ptr error = std::current_exception();
      for (Seq* s : scheduled) fail_seq(*s, error);
      running.erase(std::remove_if(running.begin(), running.end(), gone), running.end());
      return;
    }
    ++counters.steps;
    const int64_t vocab = request->vocab_size();
    size_t row = 0;
    std::vector<std::unique_ptr<Seq>> forked;
    for (size_t k = 0; k < scheduled.size(); ++k) {
      Seq& s = *scheduled[k];
      if (s.computed < static_cast<int64_t>(s.prompt_len)) {
        counters.prompt_tokens += static_cast<uint64_t>(std::min<int64_t>(counts[k], static_cast<int64_t>(s.prompt_len) - s.computed));
      }
      s.computed += counts[k];
      blocks->publish(s.blocks, s.tokens, s.computed);
      if (!steps[k].logits) continue;
      const std::span<float> r(logits.data() + static_cast<std::ptrdiff_t>(row) * vocab, static_cast<size_t>(vocab));
      ++row;
      const size_t first_child = forked.size();
      try {
        if (s.fork_pending) {
          s.fork_pending = false;
          for (size_t i = 1; i < s.req->config.num_return_sequences; ++i) forked.push_back(fork(s, i));
          // The sampler works on its row in place: each fork samples a copy, the parent the original.
          for (size_t c = first_child; c < forked.size(); ++c) {
            fork_row.assign(r.begin(), r.end());
            sample(*forked[c], fork_row);
          }
        }
        sample(s, r);
      } catch (...) {
        const std::exception_ptr error = std::current_exception();
        for (size_t c = first_child; c < forked.size(); ++c) fail_seq(*forked[c], error);
        fail_seq(s, error);
      }
    }
    for (auto& f : forked) {
      if (!f->done) running.push_back(std::move(f));
    }
    running.erase(std::remove_if(running.begin(), running.end(), gone), running.end());
  }

  void refresh_metrics() {
    const genai::KvCacheStats kv = blocks->stats();
    counters.kv_blocks_used = kv.used_blocks;
    counters.kv_blocks_cached = kv.cached_blocks;
    counters.kv_cache_usage = static_cast<double>(kv.used_blocks) / static_cast<double>(std::max<int64_t>(kv.total_blocks, 1));
    counters.prefix_queries = kv.prefix_queries;
    counters.prefix_hits = kv.prefix_hits;
  }

  // Sequence `index` of the parent's request, sharing its blocks (sampled by the caller).
  std::unique_ptr<Seq> fork(const Seq& parent, size_t index) {
    auto c = std::make_unique<Seq>();
    c->req = parent.req;
    c->index = index;
    c->order = next_order++;
    c->tokens = parent.tokens;
    c->prompt_len = parent.prompt_len;
    c->blocks = blocks->fork(parent.blocks);
    c->computed = parent.computed;
    c->admitted = parent.admitted;
    c->cached = parent.cached;
    c->admitted_once = true;
    c->end_ids = parent.end_ids;
    GenerationConfig cfg = parent.req->config;
    cfg.rng_seed += index;
    c->sampler.emplace(cfg, c->end_ids);
    c->sampler->observe_prompt(std::span<const int32_t>(c->tokens).first(c->prompt_len));
    c->decoder.emplace(*text.tokenizer);
    c->stops.emplace(cfg.stop_strings, cfg.include_stop_str_in_output);
    return c;
  }

  // Picks the sequence's next token from its logits row (which the penalties and truncations
  // modify in place: no copy of a vocabulary-sized row per token).
  void sample(Seq& s, std::span<float> row) {
    const GenerationConfig& cfg = s.req->config;
    float lp = 0;
    const int32_t token = s.sampler->next(row, cfg.logprobs > 0 ? &lp : nullptr);
    const auto now = Clock::now();
    if (s.generated == 0) s.first_token = now;
    s.last_token = now;
    ++s.generated;
    ++counters.generated_tokens;
    GenerationOutput out;
    out.index = s.index;
    out.token_ids = {token};
    if (cfg.logprobs > 0) out.logprobs = {lp};
    if (std::find(s.end_ids.begin(), s.end_ids.end(), token) != s.end_ids.end()) {
      push(s, std::move(out));
      finish(s, FinishReason::kStop, /*flush=*/true);
      return;
    }
    auto st = s.stops->push(s.decoder->push(token));
    out.text = std::move(st.emit);
    push(s, std::move(out));
    if (st.stopped) return finish(s, FinishReason::kStop);
    s.tokens.push_back(token);
    if (s.generated >= cfg.max_new_tokens || static_cast<int64_t>(s.tokens.size()) > config.max_context) {
      finish(s, FinishReason::kLength, /*flush=*/true);
    }
  }
};

ServingEngine::ServingEngine(const std::filesystem::path& model, std::string_view device, const SchedulerConfig& config,
                             const PipelineOptions& options)
    : impl_(std::make_unique<Impl>(model, device, config, options)) {}

ServingEngine::~ServingEngine() = default;

GenerationHandle ServingEngine::add_request(std::string_view prompt, const GenerationConfig& config) {
  return impl_->add(impl_->text.encode_prompt(prompt), config);
}

GenerationHandle ServingEngine::add_request(std::vector<int32_t> prompt_ids, const GenerationConfig& config) {
  return impl_->add(std::move(prompt_ids), config);
}

GenerationHandle ServingEngine::add_request(const std::vector<ChatMessage>& messages, const GenerationConfig& config) {
  return impl_->add(impl_->text.encode_chat(messages), config);
}

void ServingEngine::drain() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->accepting = false;
  }
  wait_idle();
}

bool ServingEngine::step() {
  if (impl_->config.step_thread) fail(ErrorCode::kInvalidArgument, "step(): this engine runs its own step thread");
  std::lock_guard step_lock(impl_->step_mu);
  {
    std::lock_guard lock(impl_->mu);
    impl_->busy = true;
  }
  return impl_->run_step();
}

void ServingEngine::wait_idle() {
  if (!impl_->config.step_thread) {
    while (step()) {
    }
    return;
  }
  std::unique_lock lock(impl_->mu);
  impl_->idle.wait(lock, [&] {
    return !impl_->busy && impl_->incoming.empty() && impl_->published.requests_running == 0 && impl_->published.requests_waiting == 0;
  });
}

ServingMetrics ServingEngine::metrics() const {
  std::lock_guard lock(impl_->mu);
  ServingMetrics m = impl_->published;
  return m;
}

const SchedulerConfig& ServingEngine::config() const { return impl_->config; }
std::vector<int32_t> ServingEngine::encode(std::string_view text, bool add_special_tokens) const {
  return impl_->text.tokenizer->encode(text, {.add_special_tokens = add_special_tokens, .parse_special = false});
}
std::string ServingEngine::decode(const std::vector<int32_t>& ids) const { return impl_->text.tokenizer->decode(ids); }
std::string ServingEngine::apply_chat_template(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  return impl_->text.render(messages, add_generation_prompt);
}
std::string ServingEngine::chat_template() const { return impl_->text.template_source; }
const ModelInfo& ServingEngine::model_info() const { return impl_->text.model.info(); }
int64_t ServingEngine::max_context() const { return impl_->config.max_context; }
const std::string& ServingEngine::device() const { return impl_->compiled->device(); }

}  // namespace llmrt
