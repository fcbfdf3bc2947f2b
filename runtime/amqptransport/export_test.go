package amqptransport

// ServerChannelLimit is serverChannelLimit, for the tests.
const ServerChannelLimit = serverChannelLimit
