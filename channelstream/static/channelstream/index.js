// 0.7's entry point: both classes from one module.
export {ChannelStreamConnection, ChannelStreamSigner} from './channelstream.js';
