import YTAutoApp

await CLIMain.run(AdminCommand.self)
