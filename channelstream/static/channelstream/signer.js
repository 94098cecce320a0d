// 0.7 shipped the signer in its own module; kept so existing imports keep working.
export {ChannelStreamSigner} from './channelstream.js';
