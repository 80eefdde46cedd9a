//! Credential identification: the bytes are split into header values (bearer tokens, JWTs, JWT payload
//! headers, tenant headers, client address) under a policy that uses every credential source.
#![no_main]
use distill_guard::credential::identify;
use distill_guard::policy::Policy;
use libfuzzer_sys::fuzz_target;

const POLICY: &str = r#"{"version": 1, "mode": "enforce",
  "credential": {"sources": [{"kind": "jwt_claim", "claim": "sub"},
                              {"kind": "jwt_payload_header", "header": "x-jwt-payload", "claim": "org.id"},
                              {"kind": "bearer"}, {"kind": "header", "name": "x-api-key"}],
                 "missing": "track_client_address", "client_address_header": "x-forwarded-for",
                 "hash_secret": "fuzzing-secret-0123456789"},
  "tenant": [{"kind": "jwt_claim", "claim": "org"}, {"kind": "header", "name": "x-tenant"},
             {"kind": "key_prefix", "prefixes": {"sk-acme-": "acme"}}]}"#;

fuzz_target!(|data: &[u8]| {
    let policy = match Policy::parse(POLICY.as_bytes(), &|_| None) {
        Ok(p) => p,
        Err(e) => panic!("the fuzz policy must parse: {e}"),
    };
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{1}');
    let values: Vec<String> = (0..5).map(|_| parts.next().unwrap_or("").to_string()).collect();
    let header = |name: &str| -> Option<String> {
        let v = match name {
            "authorization" => &values[0],
            "x-jwt-payload" => &values[1],
            "x-api-key" => &values[2],
            "x-tenant" => &values[3],
            "x-forwarded-for" => &values[4],
            _ => return None,
        };
        (!v.is_empty()).then(|| v.clone())
    };
    let _ = identify(&policy.credential, &header, Some("10.0.0.1:1234"));
});
