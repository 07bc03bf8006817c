from tfport.cli.app import main

main()
