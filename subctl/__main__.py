from subctl.cli import main

main()
