from ppstack.cli.main import main

main()
