//! Property tests over the parsers that read user and network input: the event-map spec parser,
//! target URL validation with the SSRF guard, and the verifier's header parsing. None may panic,
//! whatever the input; a bounded number of cases keeps them to seconds.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use crate::foundation::event::Spec;
use crate::foundation::hook::{HookId, MAX_TARGET_LEN};
use crate::foundation::net::{TargetPolicy, forbidden};
use crate::foundation::signing::{Secret, Verifier, VerifyError, signature_header};

fn config() -> ProptestConfig {
    ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_spec_parser_never_panics(spec in any::<String>(), dotted in "[a-zA-Z_.+ 0-9]{0,40}") {
        let _ = Spec::parse(&spec);
        if let Ok(parsed) = Spec::parse(&dotted) {
            prop_assert!(!parsed.action.is_empty());
            prop_assert_eq!(parsed.all_owners, dotted.trim().ends_with('+'));
        }
    }

    #[test]
    fn target_validation_never_panics(
        target in any::<String>(),
        host in "[0-9a-fA-Fx.:\\[\\]%]{0,40}",
        scheme in "(http|https|ftp|HTTP)",
        slashes in "/{2,3}",
        odd in "[a-z.\\x00\\t\\r\\n\\x7f\\u{85}é/%]{0,20}",
    ) {
        let policy = TargetPolicy::default();
        let _ = policy.check(&target);
        let _ = policy.check(&format!("{scheme}://{host}/hook"));
        let _ = policy.check(&format!("{scheme}:{slashes}{odd}/{odd}"));
        let _ = policy.https_only(true).check(&format!("{scheme}://{host}:8080/"));
    }

    #[test]
    fn a_target_with_a_control_character_is_refused(
        before in "[a-z./:]{0,20}",
        control in prop_oneof![0u32..0x20, Just(0x7f), 0x80u32..0xa0],
        after in "[a-z./]{0,20}",
    ) {
        let control = char::from_u32(control).unwrap_or('\0');
        let target = format!("https://example.com/{before}{control}{after}");
        let refused = TargetPolicy::default().check(&target).map(|_| ()).unwrap_err().to_string();
        prop_assert!(refused.contains("control character"), "{:?}: {}", target, refused);
    }

    #[test]
    fn an_accepted_target_is_sent_within_the_length_limit(path in "[aé%ü ]{0,1100}", query in "[a-z=&é]{0,200}") {
        let target = format!("https://example.com/{path}?{query}");
        if let Ok(url) = TargetPolicy::default().check(&target) {
            prop_assert!(url.as_str().len() <= MAX_TARGET_LEN, "{} bytes as sent", url.as_str().len());
        }
    }

    #[test]
    fn a_single_label_host_is_refused_unless_allowed(label in "[a-z][a-z0-9-]{0,20}", dot in "\\.?", slashes in "/{2,3}") {
        // `xn--` starts an IDNA A-label, a name only when punycode follows: not a label of this test.
        prop_assume!(!label.starts_with("xn--"));
        let target = format!("http:{slashes}{label}{dot}/hook");
        prop_assert!(TargetPolicy::default().check(&target).is_err(), "{}", target);
        let allowed = TargetPolicy::new([label.as_str()]).unwrap();
        prop_assert!(allowed.check(&target).is_ok(), "{}", target);
        let qualified = format!("http://{label}.example/hook");
        prop_assert!(TargetPolicy::default().check(&qualified).is_ok(), "{}", qualified);
    }

    #[test]
    fn an_ipv6_address_embedding_a_refused_ipv4_address_is_refused(v4 in any::<u32>()) {
        let v4 = Ipv4Addr::from(v4);
        let refused = forbidden(IpAddr::V4(v4)).is_some();
        let [a, b, c, d] = v4.octets();
        let mapped = v4.to_ipv6_mapped();
        let nat64 = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]));
        let six_to_four = Ipv6Addr::new(0x2002, u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]), 0, 0, 0, 0, 1);
        let compatible = v4.to_ipv6_compatible();
        for v6 in [mapped, nat64, six_to_four, compatible] {
            prop_assert_eq!(forbidden(IpAddr::V6(v6)).is_some(), refused, "{} for {}", v6, v4);
        }
        // The URL form of the address is refused exactly when the address is, IPv4-compatible too.
        let policy = TargetPolicy::default();
        prop_assert_eq!(policy.check(&format!("http://{}/", u32::from(v4))).is_err(), refused);
        prop_assert_eq!(policy.check(&format!("http://[{compatible}]/")).is_err(), refused, "{}", compatible);
    }

    #[test]
    fn header_parsing_never_panics_and_garbage_never_verifies(
        id in any::<String>(),
        timestamp in any::<String>(),
        signature in any::<String>(),
        entries in proptest::collection::vec("v[0-9],[A-Za-z0-9+/=]{0,50}", 0..5),
        body in any::<Vec<u8>>(),
    ) {
        let verifier = Verifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        prop_assert!(verifier.verify_parts(&id, &timestamp, &signature, &body, 1_700_000_000).is_err());
        let result = verifier.verify_parts(&id, "1700000000", &entries.join(" "), &body, 1_700_000_000);
        prop_assert_eq!(result, Err(VerifyError::BadSignature));
        let _ = Secret::parse(&signature);
    }

    #[test]
    fn every_secret_the_reference_libraries_read_signs_and_verifies(
        encoded in "[A-Za-z0-9+/]{2,86}",
        prefixed in any::<bool>(),
        padded in any::<bool>(),
        body in any::<Vec<u8>>(),
    ) {
        // Unpadded or padded, the last character's unused bits anything: all but a lone last
        // character (a length of 1 mod 4, dropped here) is a key.
        let encoded = if encoded.len() % 4 == 1 { &encoded[..encoded.len() - 1] } else { &encoded[..] };
        let padding = if padded { "=".repeat((4 - encoded.len() % 4) % 4) } else { String::new() };
        let text = format!("{}{encoded}{padding}", if prefixed { "whsec_" } else { "" });
        let secret = Secret::parse(&text);
        prop_assert!(secret.is_ok(), "{}: {:?}", text, secret);
        let header = signature_header(&[secret.unwrap()], "msg_1", 1_700_000_000, &body).unwrap();
        let verifier = Verifier::new(&text).unwrap();
        prop_assert_eq!(verifier.verify_parts("msg_1", "1700000000", &header, &body, 1_700_000_000), Ok(()));
    }

    #[test]
    fn a_hook_id_reads_back_as_its_text(text in "[-+0 ]{0,2}[0-9]{0,20}", any_text in any::<String>(), id in any::<i64>()) {
        for text in [&text, &any_text] {
            let parsed = HookId::parse(text);
            prop_assert_eq!(&parsed.to_string(), text);
            if let HookId::Int(number) = parsed {
                prop_assert_eq!(crate::foundation::keys::canonical_int(text), Some(number));
            }
        }
        prop_assert_eq!(HookId::parse(&id.to_string()), HookId::Int(id));
    }

    #[test]
    fn what_is_signed_verifies(id in "[a-zA-Z0-9_]{1,40}", body in any::<Vec<u8>>(), at in 0i64..4_000_000_000) {
        let secret = Secret::generate().unwrap();
        let header = signature_header(std::slice::from_ref(&secret), &id, at, &body).unwrap();
        prop_assert_eq!(Verifier::try_from(&secret).unwrap().verify_parts(&id, &at.to_string(), &header, &body, at), Ok(()));
    }
}
