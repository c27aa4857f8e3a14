// `metadata:` maps into `Metadata` exactly as the command line fills it (so the plan builders read
// file and command-line values alike), and the typed check of the keys Sluice reads, with positions.

/// Which metadata map a key sits in.
enum MetadataScope: Sendable {
    case service, handler, listener, hop, node, connector, dialer
}

/// How the plan reads a metadata key: the `Metadata` getter it uses.
enum MetadataKind: Sendable {
    case int, bool, duration, strings, map, byteSize
}

extension ConfigDecoder {
    /// The keys the plan builders read and how, per scope. A file value of the wrong type is
    /// reported here with its line and column; the plan would refuse it too, without them.
    static let typedMetadata: [MetadataScope: [(String, MetadataKind)]] = [
        .service: [
            ("proxyProtocol", .int), ("proxyProtocol.timeout", .duration), ("proxyProtocol.trusted", .strings),
            ("proxyProtocol.required", .bool), ("proxyProtocol.maxLength", .int), ("dialTimeout", .duration),
            ("ignoreChain", .bool), ("maxConns", .int), ("maxConns.backlog", .int),
        ],
        .handler: [
            ("proxyProtocol", .int), ("idleTimeout", .duration), ("splice", .bool), ("reply", .byteSize),
            ("close", .bool),
        ],
        .hop: [("proxyProtocol", .int)],
        .node: [("proxyProtocol", .int)],
        .connector: [("timeout", .duration), ("header", .map)],
    ]

    /// A `metadata:` mapping. Keys are lowercased, as GOST's `NewMetadata` does, so two keys that
    /// differ only in case are an error; a null value is no value. Scalars keep their type (`1`
    /// is an int, `"1"` a string, `1.0` a float): the `Metadata` getters accept each where GOST would.
    func decodeMetadata(_ node: DocumentNode, _ path: String, scope: MetadataScope) throws(ConfigFileError) -> Metadata
    {
        guard case .mapping(let entries) = node.value else {
            if case .null = node.value { return Metadata() }
            throw failure("\(path): expected a mapping, found \(node.kindDescription)", at: node.position)
        }
        var metadata = Metadata()
        var positions: [String: SourcePosition] = [:]
        for entry in entries {
            let key = entry.key.lowercased()
            if let first = positions.updateValue(entry.keyPosition, forKey: key) {
                throw failure(
                    "\(path): duplicate key \"\(entry.key)\" (metadata keys are case-insensitive; first at \(first))",
                    at: entry.keyPosition)
            }
            if let value = Self.metadataValue(entry.value) { metadata[key] = value }
        }
        for (key, kind) in Self.typedMetadata[scope] ?? [] {
            guard let entry = entries.first(where: { $0.key.lowercased() == key.lowercased() }) else { continue }
            do throws(MetadataError) {
                switch kind {
                case .int: _ = try metadata.int(key)
                case .bool: _ = try metadata.bool(key)
                case .duration: _ = try metadata.duration(key)
                case .strings: _ = try metadata.strings(key)
                case .map: _ = try metadata.map(key)
                case .byteSize: _ = try metadata.byteSize(key)
                }
            } catch {
                throw failure(
                    "\(path).\(entry.key): invalid value \(Self.shown(entry.value)): expected \(error.expected)",
                    at: entry.value.position)
            }
        }
        return metadata
    }

    /// A document value as a metadata value; nil for null. Nulls inside lists and maps become
    /// empty strings, which is what GOST's string getters read from them.
    static func metadataValue(_ node: DocumentNode) -> MetadataValue? {
        switch node.value {
        case .null: nil
        case .bool(let b): .bool(b)
        case .int(let i): .int(i)
        case .float(let f): .float(f)
        case .string(let s): .string(s)
        case .sequence(let items): .list(items.map { metadataValue($0) ?? .string("") })
        case .mapping(let entries):
            .map(entries.map { MetadataField(key: $0.key, value: metadataValue($0.value) ?? .string("")) })
        }
    }
}
