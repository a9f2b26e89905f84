//! The runtime adapters over real loopback sockets: what a bad peer gets from
//! each (tokio; async-std's adapter under async-std's executor and under
//! smol's), and servers and clients on different runtimes exchanging every
//! message type.

mod harness;

mod tokio_bad_peers {
    mosaic_demo::conformance_tests!(super::harness::OnTokio);
}

mod async_std_bad_peers {
    mosaic_demo::conformance_tests!(super::harness::OnAsyncStd);
}

mod smol_bad_peers {
    mosaic_demo::conformance_tests!(super::harness::OnSmol);
}

mod cross_runtime {
    use super::harness::{OnAsyncStd, OnSmol, OnTokio};
    use mosaic_demo::conformance::every_message_type_crosses;

    #[test]
    fn async_std_server_tokio_client() {
        every_message_type_crosses(&OnAsyncStd, &OnTokio);
    }

    #[test]
    fn tokio_server_smol_client() {
        every_message_type_crosses(&OnTokio, &OnSmol);
    }

    #[test]
    fn smol_server_async_std_client() {
        every_message_type_crosses(&OnSmol, &OnAsyncStd);
    }

    #[test]
    fn tokio_server_tokio_client() {
        every_message_type_crosses(&OnTokio, &OnTokio);
    }
}

mod load {
    use super::harness::{OnAsyncStd, OnTokio};
    use mosaic_demo::conformance::load_without_loss;

    #[test]
    fn tokio_1000_clients_lose_nothing() {
        load_without_loss(&OnTokio, 1000, 3);
    }

    #[test]
    fn async_std_200_clients_lose_nothing() {
        load_without_loss(&OnAsyncStd, 200, 3);
    }
}

mod driving {
    use super::harness::OnTokio;
    use mosaic_demo::conformance::{Harness as _, client_options, start};

    /// A task waiting on a connection runs its driver itself (no hand-over
    /// to the driver task), so a tokio connection used from a thread outside
    /// its runtime, here under smol's `block_on`, does its socket, TLS and
    /// WebSocket work on that thread; the whole example exchange must still
    /// work. (That timers are left to the driver task is checked where it
    /// can be seen: `mosaic-ws`'s driver tests, with a runtime that counts
    /// the timers made.)
    #[test]
    fn a_tokio_connection_used_from_outside_its_runtime() {
        let server = start(&OnTokio, |_| {});
        let client = OnTokio
            .connect(&server.url(), &client_options(server.key))
            .expect("connects");
        let author = mosaic_tls::Identity::generate().expect("rng");
        let mut transcript = Vec::new();
        smol::block_on(mosaic_demo::script::run(&client, &author, &mut transcript))
            .expect("the example exchange, driven from a smol thread");
        let transcript = String::from_utf8_lossy(&transcript);
        assert!(
            transcript.contains("2 records newest first"),
            "{transcript}"
        );
    }
}

mod programs {
    use std::sync::mpsc;

    use super::harness::OnTokio;
    use mosaic_demo::conformance::Harness as _;
    use mosaic_demo::{ClientArgs, MemoryStore, ServerArgs, store};
    use mosaic_tls::Identity;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    /// The example client reaches the example server when it offers only raw
    /// public keys, once it asks for one (`--server-cert-type rpk`).
    #[test]
    fn the_example_client_asks_a_raw_public_key_server_for_one() {
        let identity = Identity::generate().expect("rng");
        let mopub = identity.mopub();
        let server = ServerArgs::parse(strings(&["--cert-type", "rpk"])).expect("server flags");
        let options = server.options(identity).expect("server options");
        let (reports, _seen) = mpsc::channel();
        let store = MemoryStore::new(10, store::full_validation());
        let (addr, _shutdown) = OnTokio.start_server(options, store, reports);
        let url = format!("wss://{addr}/");
        let client = |extra: &[&str]| {
            let mut flags = strings(&["--server-key", &mopub, "--url", &url]);
            flags.extend(strings(extra));
            let args = ClientArgs::parse(flags).expect("client flags");
            OnTokio.connect(&args.url, &args.options(None).expect("client options"))
        };
        assert!(
            client(&[]).is_err(),
            "an X.509 certificate is asked for by default"
        );
        assert!(client(&["--server-cert-type", "rpk"]).is_ok());
    }
}
