using JitBroker.Server;

return await BrokerProgram.RunAsync(args);
