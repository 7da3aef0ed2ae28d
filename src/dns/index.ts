// The P2P DNS introducer, as a library.
export { createIntroducer, DEFAULT_TTL_SECONDS, JOIN_SAMPLE_SIZE, type Introducer, type IntroducerOptions } from "./introducer";
