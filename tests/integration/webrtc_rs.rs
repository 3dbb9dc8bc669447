//! Interop with an independent WebRTC stack: a webrtc-rs peer joins over the real
//! WebSocket protocol and exchanges Opus with a str0m-based [`Participant`] through the
//! SFU. Everything stays on 127.0.0.1: the server binds loopback, and the webrtc-rs peer
//! binds one loopback UDP socket (its only host candidate), with mDNS off so that it opens
//! no multicast socket.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::ice::network_type::NetworkType;
use rtc::peer_connection::configuration::media_engine::MIME_TYPE_OPUS;
use rtc::rtp;
use rtc::rtp::extension::audio_level_extension::AudioLevelExtension;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use rtc::shared::marshal::Marshal;
use serde_json::{Value, json};
use talkstick::client::{ClientEvent, Participant};
use talkstick::rtp::Audio;
use talkstick_signaling::ParticipantId;
use talkstick_signaling::protocol::{Role, ServerMsg, Settings};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCPeerConnectionState, RTCSessionDescription, SettingEngineBuilder,
};
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit, RtpSender};

use crate::common::{Client, Server};
use crate::media::opus_packets;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Bound on every wait: generous for a 2-core CI machine in debug mode.
const WAIT: Duration = Duration::from_secs(10);
const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
/// RFC 6464 level the webrtc-rs peer sends, in -dBov: loud (the server's threshold is 45).
const LOUD: u8 = 20;
const MIC_SSRC: u32 = 0x7a1c_5eed;

/// One RTP packet the webrtc-rs peer received, and the mid of the m-line it came on.
struct Heard {
    mid: String,
    seq: u16,
    payload: Vec<u8>,
}

/// What reaches the webrtc-rs peer's test loop: from the WebSocket, from webrtc-rs
/// callbacks and from the tasks that read its remote tracks.
enum RsEvent {
    Signal(Value),
    State(RTCPeerConnectionState),
    Track(Arc<dyn TrackRemote>),
    Heard(Heard),
}

/// The webrtc-rs callbacks the test needs: remote tracks and the connection state.
struct Callbacks(mpsc::UnboundedSender<RsEvent>);

type Callback<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

// The handler is an `async_trait`; its methods are written out here (a boxed future per
// call), which spares a dependency on the macro.
impl PeerConnectionEventHandler for Callbacks {
    fn on_track<'s, 'f>(&'s self, track: Arc<dyn TrackRemote>) -> Callback<'f>
    where
        's: 'f,
        Self: 'f,
    {
        let _ = self.0.send(RsEvent::Track(track));
        Box::pin(async {})
    }

    fn on_connection_state_change<'s, 'f>(&'s self, state: RTCPeerConnectionState) -> Callback<'f>
    where
        's: 'f,
        Self: 'f,
    {
        let _ = self.0.send(RsEvent::State(state));
        Box::pin(async {})
    }
}

/// A participant whose audio is webrtc-rs: a send-only Opus track, then receive-only
/// audio transceivers for the server's slots. Its signaling is the raw JSON of
/// [`Client`].
struct RsPeer {
    id: u64,
    pc: Arc<dyn PeerConnection>,
    mic: Arc<TrackLocalStaticRTP>,
    sender: Arc<dyn RtpSender>,
    events_tx: mpsc::UnboundedSender<RsEvent>,
    events: mpsc::UnboundedReceiver<RsEvent>,
    state: RTCPeerConnectionState,
    /// Server messages so far, in order.
    signals: Vec<Value>,
    heard: Vec<Heard>,
}

impl RsPeer {
    /// Joins `room` and negotiates audio: the offer goes out as soon as it is set locally
    /// (the server is ICE-lite and needs no client candidates).
    async fn join(server: &Server, room: &str, name: &str) -> RsPeer {
        let mut client = Client::join(server, room, name, Role::Learner).await;
        let welcome = client.log.iter().find(|v| v["type"] == "welcome").unwrap();
        let slots = welcome["room"]["audio_slots"].as_u64().unwrap();

        let opus = RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.to_owned(),
            clock_rate: 48_000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
            rtcp_feedback: vec![],
        };
        let mut media = MediaEngine::default();
        let codec = RTCRtpCodecParameters { rtp_codec: opus.clone(), payload_type: 111 };
        media.register_codec(codec, RtpCodecKind::Audio).unwrap();
        let level = RTCRtpHeaderExtensionCapability { uri: AUDIO_LEVEL_URI.to_owned() };
        media.register_header_extension(level, RtpCodecKind::Audio, None).unwrap();
        let settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_network_types(vec![NetworkType::Udp4])
            .build();
        let (events_tx, events) = mpsc::unbounded_channel();
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_setting_engine(settings)
            .with_handler(Arc::new(Callbacks(events_tx.clone())))
            .with_udp_addrs(vec![SocketAddr::new(LOOPBACK, 0)])
            .build()
            .await
            .unwrap();
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);

        // The microphone first, then the slots: the server relies on this order.
        let encoding = RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(MIC_SSRC),
                ..Default::default()
            },
            codec: opus,
            ..Default::default()
        };
        let track = MediaStreamTrack::new(
            "rs-stream".into(),
            "rs-mic".into(),
            "microphone".into(),
            RtpCodecKind::Audio,
            vec![encoding],
        );
        let mic = Arc::new(TrackLocalStaticRTP::new(track));
        let direction = |direction| RTCRtpTransceiverInit { direction, ..Default::default() };
        let send_only = Some(direction(RTCRtpTransceiverDirection::Sendonly));
        let t = pc.add_transceiver_from_track(mic.clone(), send_only).await.unwrap();
        let sender = t.sender().await.unwrap().expect("the microphone has a sender");
        for _ in 0..slots {
            let recv_only = Some(direction(RTCRtpTransceiverDirection::Recvonly));
            pc.add_transceiver_from_kind(RtpCodecKind::Audio, recv_only).await.unwrap();
        }
        let offer = pc.create_offer(None).await.unwrap();
        pc.set_local_description(offer.clone()).await.unwrap();
        client.send(json!({"type": "rtc_offer", "sdp": offer.sdp})).await;

        // From here on one task reads the WebSocket; nothing more is sent on it.
        let (id, mut ws, tx) = (client.id, client.ws, events_tx.clone());
        tokio::spawn(async move {
            while let Some(Ok(msg)) = ws.next().await {
                let Message::Text(t) = msg else { continue };
                if tx.send(RsEvent::Signal(serde_json::from_str(t.as_str()).unwrap())).is_err() {
                    break;
                }
            }
        });
        let state = RTCPeerConnectionState::New;
        let (signals, heard) = (Vec::new(), Vec::new());
        let mut peer = RsPeer { id, pc, mic, sender, events_tx, events, state, signals, heard };
        peer.pump_until("rtc_answer", |p| p.saw("rtc_answer").is_some()).await;
        let sdp = peer.saw("rtc_answer").unwrap()["sdp"].as_str().unwrap().to_owned();
        peer.pc.set_remote_description(RTCSessionDescription::answer(sdp).unwrap()).await.unwrap();
        peer
    }

    /// The last server message of `kind`.
    fn saw(&self, kind: &str) -> Option<&Value> {
        self.signals.iter().rev().find(|v| v["type"] == kind)
    }

    /// Connected on both ends: DTLS is up here, and the server sent the first `slots`
    /// (it does when its side of the connection comes up).
    async fn connected(&mut self) {
        self.pump_until("audio connected", |p| {
            p.state == RTCPeerConnectionState::Connected && p.saw("slots").is_some()
        })
        .await;
        let local = self.pc.local_description().await.unwrap().sdp;
        for c in local.lines().filter(|l| l.starts_with("a=candidate:")) {
            assert!(c.contains(" 127.0.0.1 "), "webrtc-rs stays on loopback: {c}");
        }
    }

    /// Handles server messages, new remote tracks and received packets until `done`
    /// holds; panics after [`WAIT`].
    async fn pump_until(&mut self, what: &str, done: impl Fn(&RsPeer) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done(self) {
            if !self.step(deadline).await {
                panic!(
                    "webrtc-rs peer {}: never saw {what}; state {:?}, {} packets; signals: {:?}",
                    self.id,
                    self.state,
                    self.heard.len(),
                    self.signals.iter().map(Value::to_string).collect::<Vec<_>>()
                );
            }
        }
    }

    /// Handles whatever arrives within `d`.
    async fn pump_for(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        while self.step(deadline).await {}
    }

    /// Handles one event; `false` when `deadline` passed first.
    async fn step(&mut self, deadline: tokio::time::Instant) -> bool {
        let Ok(Some(event)) = tokio::time::timeout_at(deadline, self.events.recv()).await else {
            return false;
        };
        match event {
            RsEvent::Signal(v) => self.signals.push(v),
            RsEvent::State(s) => self.state = s,
            RsEvent::Track(track) => self.read_track(track).await,
            RsEvent::Heard(h) => self.heard.push(h),
        }
        true
    }

    /// Finds the mid of a new remote track's transceiver and reads its packets.
    async fn read_track(&mut self, track: Arc<dyn TrackRemote>) {
        let mut mid = None;
        for t in self.pc.get_transceivers().await {
            let Ok(Some(receiver)) = t.receiver().await else { continue };
            if std::ptr::addr_eq(Arc::as_ptr(receiver.track()), Arc::as_ptr(&track)) {
                mid = t.mid().await.unwrap();
            }
        }
        let mid = mid.expect("a remote track belongs to a transceiver with a mid");
        let tx = self.events_tx.clone();
        tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(p) = event {
                    let payload = p.payload.to_vec();
                    let h = Heard { mid: mid.clone(), seq: p.header.sequence_number, payload };
                    if tx.send(RsEvent::Heard(h)).is_err() {
                        break;
                    }
                }
            }
        });
    }

    /// Sends `packets` from the microphone, one per 20 ms, using the payload type, SSRC
    /// and extension id negotiated with the server. The first `loud` packets carry a loud
    /// audio level, the rest silence (127 -dBov), as a browser marks them.
    async fn speak(&self, packets: &[Vec<u8>], loud: usize) {
        let params = self.sender.get_parameters().await.unwrap();
        let ext = params.rtp_parameters.header_extensions.iter().find(|e| e.uri == AUDIO_LEVEL_URI);
        let ext = u8::try_from(ext.expect("the server accepted the audio level").id).unwrap();
        let opus = params
            .rtp_parameters
            .codecs
            .iter()
            .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(MIME_TYPE_OPUS));
        let pt = opus.expect("the server accepted Opus").payload_type;
        let ssrc = params.encodings[0].rtp_coding_parameters.ssrc.unwrap();
        let level = |loud| {
            let ext = AudioLevelExtension { level: if loud { LOUD } else { 127 }, voice: loud };
            ext.marshal().unwrap().freeze()
        };
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for (i, data) in packets.iter().enumerate() {
            tick.tick().await;
            let mut header = rtp::header::Header {
                version: 2,
                marker: i == 0,
                payload_type: pt,
                sequence_number: 7_000 + i as u16,
                timestamp: 90_000 + i as u32 * 960,
                ssrc,
                ..Default::default()
            };
            header.set_extension(ext, level(i < loud)).unwrap();
            let packet = rtp::packet::Packet { header, payload: data.clone().into() };
            self.mic.write_rtp(packet).await.unwrap();
        }
    }
}

/// A str0m-based participant and what it received.
struct Str0m {
    p: Participant,
    audio: Vec<Audio>,
    signals: Vec<ServerMsg>,
    connected: bool,
}

impl Str0m {
    async fn join(server: &Server, room: &str, name: &str) -> Str0m {
        let token = server.token(room, name, Role::Learner);
        let p = Participant::join(&server.base(), &token, Some(LOOPBACK)).await.unwrap();
        Str0m { p, audio: Vec::new(), signals: Vec::new(), connected: false }
    }

    /// Reads events until `done` holds; panics after [`WAIT`].
    async fn pump_until(&mut self, what: &str, done: impl Fn(&Str0m) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done(self) {
            if !self.step(deadline).await {
                panic!("str0m participant {}: never saw {what}", self.p.id);
            }
        }
    }

    /// Reads whatever arrives within `d`.
    async fn pump_for(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        while self.step(deadline).await {}
    }

    /// Reads one event; `false` when `deadline` passed first (or the session ended).
    async fn step(&mut self, deadline: tokio::time::Instant) -> bool {
        match tokio::time::timeout_at(deadline, self.p.events.recv()).await {
            Ok(Some(ClientEvent::Audio(a))) => self.audio.push(a),
            Ok(Some(ClientEvent::Signal(frame, _))) => self.signals.push(frame.msg),
            Ok(Some(ClientEvent::Undecodable { text, error, .. })) => {
                panic!("str0m participant {}: unreadable message {text}: {error}", self.p.id)
            }
            Ok(Some(ClientEvent::AudioConnected)) => self.connected = true,
            Ok(Some(ClientEvent::Closed)) | Ok(None) | Err(_) => return false,
        }
        true
    }

    /// The mid of the slot that the last `slots` message gives to the webrtc-rs peer.
    fn slot_of(&self, rs: &RsPeer) -> Option<String> {
        let who = ParticipantId(u32::try_from(rs.id).unwrap());
        let slots = self.signals.iter().rev().find_map(|m| match m {
            ServerMsg::Slots { slots } => Some(slots),
            _ => None,
        })?;
        Some(slots.iter().find(|s| s.participant == Some(who))?.mid.clone())
    }
}

/// The mid of the slot that the last `slots` message in `signals` (raw JSON) gives to
/// `who`.
fn slot_of(signals: &[Value], who: u64) -> Option<String> {
    let slots = signals.iter().rev().find(|v| v["type"] == "slots")?;
    let slot = slots["slots"].as_array()?.iter().find(|s| s["participant"] == who)?;
    Some(slot["mid"].as_str()?.to_owned())
}

/// A webrtc-rs peer and a str0m participant in one room, both with audio up.
async fn pair(server: &Server, room: &str) -> (RsPeer, Str0m) {
    let mut rs = RsPeer::join(server, room, "Webby").await;
    let mut st = Str0m::join(server, room, "Strom").await;
    rs.connected().await;
    st.pump_until("audio connected", |s| s.connected).await;
    (rs, st)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_str0m_participant_hears_a_webrtc_rs_peer_every_packet_once_in_order() {
    let server = Server::with_media(Settings::default()).await;
    let (rs, mut st) = pair(&server, "wr1").await;
    let packets = opus_packets(50, 20.0);
    rs.speak(&packets, packets.len()).await;
    st.pump_until("all packets", |s| s.audio.len() >= packets.len()).await;
    // Anything more arriving soon after would be a duplicate.
    st.pump_for(Duration::from_millis(200)).await;
    assert_eq!(st.audio.len(), packets.len(), "each packet exactly once");
    let got: Vec<&Vec<u8>> = st.audio.iter().map(|a| &a.data).collect();
    assert_eq!(got, packets.iter().collect::<Vec<_>>(), "every packet, in order, intact");
    let seqs: Vec<u64> = st.audio.iter().map(|a| a.seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "one continuous stream");
    let mid = st.slot_of(&rs).expect("the webrtc-rs peer was put in a slot");
    assert!(st.audio.iter().all(|a| *a.mid == *mid), "all on the slot named for it");
    // (str0m reports levels as negative dBov.)
    let levels = st.audio.iter().map(|a| a.level.map(i8::unsigned_abs));
    assert!(levels.clone().all(|l| l == Some(LOUD)), "its level forwarded: {levels:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webrtc_rs_peer_hears_a_str0m_participant_on_the_slot_named_for_it() {
    let server = Server::with_media(Settings::default()).await;
    let (mut rs, st) = pair(&server, "wr2").await;
    let packets = opus_packets(50, 45.0);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for (i, data) in packets.iter().enumerate() {
        tick.tick().await;
        st.p.send_audio(5_000 + i as u64 * 960, 20, data.clone()).await;
    }
    let speaker = u64::from(st.p.id.0);
    rs.pump_until("all packets", |p| p.heard.len() >= packets.len()).await;
    rs.pump_until("its slot", |p| slot_of(&p.signals, speaker).is_some()).await;
    rs.pump_for(Duration::from_millis(200)).await;
    assert_eq!(rs.heard.len(), packets.len(), "each packet exactly once");
    let mid = slot_of(&rs.signals, speaker).unwrap();
    assert!(rs.heard.iter().all(|h| h.mid == mid), "all on the slot named for the speaker");
    let got: Vec<&Vec<u8>> = rs.heard.iter().map(|h| &h.payload).collect();
    assert_eq!(got, packets.iter().collect::<Vec<_>>(), "every packet, in order, intact");
    let seqs: Vec<u16> = rs.heard.iter().map(|h| h.seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)), "one continuous stream");
}

/// Silence is marked, not just absent: a browser keeps sending packets with a level of
/// 127 -dBov (or DTX comfort noise). The server must end speech while they still flow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webrtc_rs_peer_stops_speaking_while_its_quiet_packets_still_flow() {
    let server = Server::with_media(Settings::default()).await;
    let (rs, mut st) = pair(&server, "wr3").await;
    // 0.5 s loud, then 1.5 s marked silent: speech ends a hangover (0.3 s) into the quiet.
    let packets = opus_packets(100, 70.0);
    let who = ParticipantId(u32::try_from(rs.id).unwrap());
    let speaking = |on: bool| {
        move |s: &Str0m| s.signals.contains(&ServerMsg::Speaking { participant: who, speaking: on })
    };
    let (sent_all, stopped) = tokio::join!(
        async {
            rs.speak(&packets, 25).await;
            Instant::now()
        },
        async {
            st.pump_until("speaking", speaking(true)).await;
            st.pump_until("speaking stopped", speaking(false)).await;
            Instant::now()
        }
    );
    assert!(
        stopped < sent_all,
        "speech ended {:?} after the quiet packets did",
        stopped - sent_all
    );
}
