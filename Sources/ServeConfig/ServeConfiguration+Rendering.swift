extension ServeConfiguration {
    /// The effective settings as YAML (what `pipeserve config check` prints).
    public func renderedYAML() -> String {
        func q(_ s: String?) -> String { s.map { "\"\($0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\"" } ?? "null" }
        let layers: String
        switch pipeline.layers {
        case .auto: layers = "auto"
        case let .counts(c): layers = "[\(c.map(String.init).joined(separator: ", "))]"
        }
        let numa: String
        switch pipeline.numa {
        case .auto: numa = "auto"
        case .off: numa = "off"
        case let .nodes(n): numa = "[\(n.map(String.init).joined(separator: ", "))]"
        }
        let cpus = "[" + pipeline.cpus.map { "[\($0.map(String.init).joined(separator: ", "))]" }.joined(separator: ", ") + "]"
        return """
            model: \(q(model))
            served_model_name: \(q(servedModelName))
            http:
              host: \(q(http.host))
              port: \(http.port)
              api_key_file: \(q(http.apiKeyFile))
              max_body_bytes: \(http.maxBodyBytes)
              request_timeout: \(http.requestTimeout)
            pipeline:
              stages: \(pipeline.stages)
              layers: \(layers)
              micro_batches: \(pipeline.effectiveMicroBatches)
              threads_per_stage: \(pipeline.threadsPerStage.map(String.init) ?? "auto")
              cpus: \(cpus)
              numa: \(numa)
              socket_dir: \(q(pipeline.socketDir))
              activation_dtype: \(pipeline.activationDType)
            scheduler:
              max_running: \(scheduler.maxRunning)
              max_batch_tokens: \(scheduler.maxBatchTokens)
              prefill_chunk_tokens: \(effectivePrefillChunkTokens)
              kv_cache_tokens: \(scheduler.kvCacheTokens)
              max_queue: \(scheduler.maxQueue)
              decode_stall_limit: \(scheduler.decodeStallLimit.map { "\($0)" } ?? "off")
              prefix_cache: \(scheduler.prefixCache)
              kv_block_tokens: \(scheduler.kvBlockTokens)
            limits:
              context_length: \(limits.contextLength.map(String.init) ?? "null")
              max_tokens: \(limits.maxTokens)
              max_n: \(limits.maxN)
            recovery:
              max_restarts: \(recovery.maxRestarts)
              restart_window: \(recovery.restartWindow)
              heartbeat_timeout: \(recovery.heartbeatTimeout)
            chat_template: \(q(chatTemplate))
            logging:
              level: \(logging.level)
              format: \(logging.format)
            trace: \(q(trace))

            """
    }
}
